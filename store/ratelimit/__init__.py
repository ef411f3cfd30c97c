"""Rate limits counted in the database, so every app process and host sees the same counts."""
