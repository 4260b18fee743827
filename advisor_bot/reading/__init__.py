"""Reading a turn: rules and meaning, once per turn, into a typed ``Reading``."""
