"""What runs on the projector side of the room: the python-vlc player that follows roomctl's screen state.

The kiosk page itself (HTML/CSS/JS) is served by roomctl; this package holds the programs that run beside it.
"""
