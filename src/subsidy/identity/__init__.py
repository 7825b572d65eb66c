"""People's identities: principals with roles, their credentials and short-lived sessions."""
