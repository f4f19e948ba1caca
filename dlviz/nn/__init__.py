"""Layer kinds and activations: the vocabulary of a NetSpec."""
