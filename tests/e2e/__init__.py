"""Helpers for the end-to-end tests that need real outside programs (an IdP, a browser)."""
