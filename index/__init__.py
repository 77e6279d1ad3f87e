"""Retrieval for StudyBot: chunking, embedding, FAISS and BM25 search, hybrid fusion, on-disk store.

This package knows nothing about Discord or the bot; it takes documents and answers searches.
"""
