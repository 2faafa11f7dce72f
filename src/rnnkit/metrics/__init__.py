"""Metrics that wrap the field's libraries (scikit-learn, seqeval, sacrebleu, jiwer): DESIGN.md layer 6."""
