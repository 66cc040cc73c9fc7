"""Label schema, the shipped corpus, loaders and sentence splitting."""
