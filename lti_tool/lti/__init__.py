"""LTI 1.3: registrations, tool keys, OIDC login, launch, deep linking, AGS."""
