"""The pure core of StudyBot. Nothing here imports discord."""
