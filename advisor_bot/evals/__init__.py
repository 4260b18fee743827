"""The eval harness: question sets, the naive-RAG baseline, scoring and reports; a shell over the Advisor."""
