"""Tests of the extension object, the package's layering, and the sample app."""
