from pcutlib.teaching.lessons import *  # noqa: F401,F403  (split per notebook below)
