"""Retrieval: the shipped index, each server's index and their sync, embedder selection, and the answerer.

Modules are imported where needed, not here: `studybot ask` must not pay for the per-server machinery.

- ``embedders``: which runtime embeds a batch (one rule, used by every build);
- ``shipped``: the index of the shipped knowledge folder, rebuilt when the folder changes;
- ``child_build``: that rebuild in a child process, so the bot never holds the build's torch;
- ``servers``: each server's overlay index, and ``KbSync`` that keeps them in step with the database;
- ``overlay_vectors``: the vectors a publishing process stores with a change, so the others need not embed;
- ``answerer``: which ``AnswerService`` answers which server, run off the event loop.
"""
