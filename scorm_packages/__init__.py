"""SCORM dispatch packages (manifest builders, packaging, dispatch runtime)."""
