"""The query language: words, "quoted phrases", AND / OR / NOT and parentheses.

White space between terms means AND. Every term or phrase matches where its text occurs (see
``portal.search.analysis``): ``客户档案管理员`` is one exact sequence, never its sub-words ANDed.
Operators must be written in capitals (``and``/``or``/``not`` in lower case are ordinary words).
A malformed query raises ``QueryError`` with a message for the user.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from whoosh import query as wq

from portal.errors import ValidationFailed
from portal.search.analysis import ExactQuery, Item, clause_items

MAX_QUERY_CHARS = 500
MAX_TERMS = 32
OPERATORS = {"AND", "OR", "NOT"}
TOKEN_RE = re.compile(r'"([^"]*)"|(\()|(\))|([^\s()"]+)|(")')


class QueryError(ValidationFailed):
    """A query the parser cannot read; the message says why, for the user."""


@dataclass
class Term:
    text: str
    phrase: bool = False


@dataclass
class Node:
    op: str  # AND | OR | NOT
    children: list = field(default_factory=list)


def _normalise(text: str) -> str:
    # full-width quotes, brackets and spaces as their ASCII forms, so ＂…＂ and （…） work too
    text = unicodedata.normalize("NFKC", text)
    return text.replace("“", '"').replace("”", '"').replace("「", '"').replace("」", '"')


def tokenize(text: str) -> list[tuple[str, str]]:
    out = []
    for m in TOKEN_RE.finditer(_normalise(text)):
        if m.group(1) is not None:
            out.append(("PHRASE", m.group(1)))
        elif m.group(2):
            out.append(("(", "("))
        elif m.group(3):
            out.append((")", ")"))
        elif m.group(5):
            raise QueryError(_l("A quotation mark is not closed. Put a phrase between two quotation "
                                "marks, e.g. \"客户档案\"."))
        else:
            word = m.group(4)
            out.append((word, word) if word in OPERATORS else ("WORD", word))
    return out


class _Parser:
    def __init__(self, tokens):
        self.tokens = tokens
        self.i = 0

    def peek(self):
        return self.tokens[self.i][0] if self.i < len(self.tokens) else None

    def take(self):
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def parse(self):
        node = self.or_expr()
        if self.peek() is not None:
            if self.peek() == ")":
                raise QueryError(_l("A closing bracket has no opening bracket."))
            raise QueryError(_l("The query could not be read near “%(token)s”.", token=self.tokens[self.i][1]))
        return node

    def or_expr(self):
        children = [self.and_expr()]
        while self.peek() == "OR":
            self.take()
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Node("OR", children)

    def and_expr(self):
        children = [self.unary()]
        while self.peek() not in (None, ")", "OR"):
            if self.peek() == "AND":
                self.take()
            children.append(self.unary())
        return children[0] if len(children) == 1 else Node("AND", children)

    def unary(self):
        kind = self.peek()
        if kind == "NOT":
            self.take()
            return Node("NOT", [self.unary()])
        if kind == "(":
            self.take()
            node = self.or_expr()
            if self.peek() != ")":
                raise QueryError(_l("A bracket is not closed."))
            self.take()
            return node
        if kind in ("WORD", "PHRASE"):
            _k, text = self.take()
            return Term(text, phrase=kind == "PHRASE")
        if kind is None:
            raise QueryError(_l("AND, OR and NOT need a search term after them."))
        if kind == ")":
            raise QueryError(_l("Empty brackets or a closing bracket without an opening one."))
        raise QueryError(_l("%(op)s needs a search term on both sides.", op=kind))


@dataclass
class Parsed:
    tree: object
    positive: list[list[Item]]  # item sequences that hits contain (for highlighting)

    def whoosh(self, allow=None):
        return _to_whoosh(self.tree, allow)


def parse(text: str) -> Parsed:
    text = (text or "").strip()
    if not text:
        raise QueryError(_l("Type something to search for."))
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(_l("The query is too long (at most %(n)d characters).", n=MAX_QUERY_CHARS))
    tokens = tokenize(text)
    if sum(1 for t in tokens if t[0] in ("WORD", "PHRASE")) > MAX_TERMS:
        raise QueryError(_l("The query has too many terms (at most %(n)d).", n=MAX_TERMS))
    tree = _simplify(_Parser(tokens).parse())
    if tree is None:
        raise QueryError(_l("The query has no searchable characters (letters, digits or Chinese "
                            "characters)."))
    if _only_negative(tree):
        raise QueryError(_l("NOT excludes results; combine it with a term to search for, e.g. "
                            "合同 NOT 草稿."))
    positive: list[list[Item]] = []
    _collect_positive(tree, positive, negated=False)
    return Parsed(tree, positive)


def _simplify(node):
    """Replace terms by their items; drop terms without searchable characters."""
    if isinstance(node, Term):
        items = clause_items(node.text)
        return items or None
    children = [c for c in (_simplify(c) for c in node.children) if c is not None]
    if not children:
        return None
    if node.op != "NOT" and len(children) == 1:
        return children[0]
    return Node(node.op, children)


def _only_negative(node) -> bool:
    if isinstance(node, list):
        return False
    if node.op == "NOT":
        return True
    if node.op == "AND":
        return all(_only_negative(c) for c in node.children)
    return any(_only_negative(c) for c in node.children)  # OR: any branch without a positive


def _collect_positive(node, out, negated):
    if isinstance(node, list):
        if not negated:
            out.append(node)
        return
    for c in node.children:
        _collect_positive(c, out, negated ^ (node.op == "NOT"))


def _to_whoosh(node, allow):
    if isinstance(node, list):
        return ExactQuery([node], allow=allow)
    if node.op == "OR":
        return wq.Or([_to_whoosh(c, allow) for c in node.children])
    if node.op == "AND":
        groups = [c for c in node.children if isinstance(c, list)]
        negatives = [c.children[0] for c in node.children if not isinstance(c, list) and c.op == "NOT"]
        others = [c for c in node.children if not isinstance(c, list) and c.op != "NOT"]
        positives = ([ExactQuery(groups, allow=allow)] if groups else []) + [_to_whoosh(c, allow) for c in others]
        q = positives[0] if len(positives) == 1 else wq.And(positives)
        if negatives:
            neg = [_to_whoosh(c, None) for c in negatives]
            q = wq.AndNot(q, neg[0] if len(neg) == 1 else wq.Or(neg))
        return q
    raise QueryError(_l("NOT excludes results; combine it with a term to search for, e.g. 合同 NOT 草稿."))


def is_plain(parsed: Parsed) -> bool:
    """Whether the query is one conjunction of terms (the fast path: one ExactQuery)."""
    t = parsed.tree
    return isinstance(t, list) or (t.op == "AND" and all(isinstance(c, list) for c in t.children))


def groups_of(parsed: Parsed) -> list[list[Item]]:
    t = parsed.tree
    return [t] if isinstance(t, list) else list(t.children)
