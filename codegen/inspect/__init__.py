"""Inspectors that need the compiler's dependencies (JSON Schema through datamodel-code-generator);
the standard-library inspectors live in ``xrepo.runtime.introspect``."""
