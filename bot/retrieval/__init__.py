"""Retrieval: the shipped index, each server's index and their sync, embedder selection, and the answerer.

Modules are imported where needed, not here: `studybot ask` must not pay for the per-server machinery.

- ``embedders``: which runtime embeds a batch (one rule, used by every build);
- ``shipped``: the index of the shipped knowledge folder, rebuilt when the folder changes;
- ``servers``: each server's overlay index, and ``KbSync`` that keeps them in step with the database;
- ``answerer``: which ``AnswerService`` answers which server, run off the event loop.
"""
