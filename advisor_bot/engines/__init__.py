"""Answer engines: one interface, an offline implementation and an LLM one."""
