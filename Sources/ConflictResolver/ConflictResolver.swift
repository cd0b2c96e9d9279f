// ConflictResolver: see Package.swift for this stage's place in the pipeline.
