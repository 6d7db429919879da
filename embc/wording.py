"""How numbers read in messages and figure headings."""


def counted(n: int, noun: str) -> str:
    """`n` and a regular plural noun that agrees with it: "1 cluster", "0 clusters", "1600 points"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
