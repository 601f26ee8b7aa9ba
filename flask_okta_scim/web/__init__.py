"""The Flask layer: blueprints, request parsing, HTTP responses; the only one importing Flask."""
