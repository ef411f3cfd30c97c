"""The course player: serves a course's content under a seat, tracks progress server side and
resumes where the learner left off. LTI launches and SCORM dispatch launches both send the
learner here with a signed player token (``tokens.issue_player_token``)."""
