"""The tidy market schema, token classification and data-quality gates."""
