"""The demo: locally generated content, idempotent seeding and the `signage-demo` launcher."""
