"""Applications: data + model + training + metrics wired together (DESIGN.md layer 7)."""
