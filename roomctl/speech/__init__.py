"""The brainstorm on the Pi: consent, recording to a disk spool, and streaming Whisper transcription."""
