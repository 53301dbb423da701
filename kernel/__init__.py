"""The kernel: pieces every app shares and that import nothing of the project.

Domain errors (``kernel.errors``), state machines with their guards (``kernel.states``),
money (``kernel.money``), user-written patterns (``kernel.patterns``), the read-only admin
and the embedded default's generated secrets. Every other package may import it; it imports
only the standard library, Django and third-party libraries.
"""
