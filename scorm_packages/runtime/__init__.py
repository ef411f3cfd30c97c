"""The dispatch runtime's web side (Flask blueprint ``dispatch``, in ``views``).

``static/dispatch.js`` is the launch page's script that ``scorm_packages.packaging`` puts in
every package zip; it runs in the LMS, not on this server.
"""
