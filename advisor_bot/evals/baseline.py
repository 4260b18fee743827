"""The naive baseline the eval report compares against: LangChain's tutorial RAG.

Fixed-size chunks (RecursiveCharacterTextSplitter, 1000 characters, 200 overlap)
in a throw-away Chroma store, dense top-4, no tools, no refusals. Its "answer"
is the four chunks concatenated, and its citations are those chunks at the
offsets where they occur in the corpus, so both systems are scored by the same
code. It embeds with our Embedder and retrieves with the same condensed query as
the engine, so the comparison isolates chunking and retrieval, not the model.
"""

from __future__ import annotations

import time
from pathlib import Path

from langchain_core.documents import Document as LCDocument
from langchain_core.embeddings import Embeddings

from advisor_bot.answer import Answer
from advisor_bot.citations import Citation
from advisor_bot.corpus import Document, Section, parse_sections
from advisor_bot.evals.evalset import EvalQuestion
from advisor_bot.evals.evaluate import K, Attempt, condensed_query

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
TOP = 4
FRONT_MATTER = "Front matter"


class NaiveRag:
    name = engine = "baseline"
    recommends = False

    def __init__(
        self,
        *,
        documents: dict[str, Document],
        embedder: Embeddings,
        workdir: Path,
        corpus_version: str,
        max_question_chars: int,
    ) -> None:
        from chromadb.config import Settings as ChromaSettings
        from langchain_chroma import Chroma
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        self.documents = documents
        self.corpus_version = corpus_version
        self.max_question_chars = max_question_chars
        self.sections = {doc_id: parse_sections(doc) for doc_id, doc in documents.items()}
        splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, add_start_index=True)
        chunks = splitter.create_documents(
            [d.text for d in documents.values()], metadatas=[{"document": d.id} for d in documents.values()]
        )
        self.store = Chroma.from_documents(
            chunks,
            embedding=embedder,
            collection_name="naive-baseline",
            persist_directory=str(workdir),
            client_settings=ChromaSettings(anonymized_telemetry=False),
        )

    @staticmethod
    def _span(chunk: LCDocument) -> tuple[str, int, int]:
        # add_start_index finds each chunk in the text with str.find, so this is its exact offset.
        start = int(chunk.metadata["start_index"])
        return chunk.metadata["document"], start, start + len(chunk.page_content)

    def _overlapping(self, document: str, start: int, end: int) -> list[Section]:
        """Sections the span overlaps, the one holding most of it first."""
        hits = [s for s in self.sections[document] if s.start < end and start < s.end]
        return sorted(hits, key=lambda s: -(min(end, s.end) - max(start, s.start)))

    def _citation(self, document: str, start: int, end: int) -> Citation:
        # A fixed-size chunk straddles headings; it is filed under the section holding most of it.
        sections = self._overlapping(document, start, end)
        best = sections[0] if sections else None
        return Citation(
            document=document,
            section=best.path_text if best else FRONT_MATTER,
            anchor=best.anchor if best else "",
            quote=self.documents[document].text[start:end],
            start=start,
            end=end,
            promotional=best.promotional if best else False,
        )

    def attempt(self, question: EvalQuestion) -> Attempt:
        began = time.perf_counter()
        query = condensed_query(question, max_chars=self.max_question_chars)
        hits = self.store.similarity_search(query, k=K) if query else []
        spans = [self._span(h) for h in hits]
        citations = [self._citation(*s) for s in spans[:TOP]]
        answer = Answer(
            question=question.question,
            answer_markdown="\n\n".join(c.quote for c in citations),
            citations=citations,
            engine=self.name,
            corpus_version=self.corpus_version,
        )
        latency = (time.perf_counter() - began) * 1000
        # For Recall@k a chunk counts for every section it overlaps: the generous reading, for a baseline.
        ranking = [[h for s in self._overlapping(*span) for h in s.heading_path] for span in spans]
        return Attempt(answer=answer, ranking=ranking, latency_ms=latency)
