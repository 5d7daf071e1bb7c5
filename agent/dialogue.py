"""One turn of the conversation: words in; a message, maybe a question, and ranked photos out.

A turn (1) reads feedback on the photos shown last ("#3 is close", "not 1 or 2", "earlier than
that"), (2) takes an answer to the question asked last, (3) plans whatever else the person said
(an LLM planner when one is loaded, else rules; dates and places are always resolved in code),
(4) merges that into the dialogue's plan, (5) searches and re-ranks with the feedback so far,
(6) asks the question that best splits the top candidates when no photo is clearly ahead, and
(7) explains each result. The state is a plain pydantic object the caller saves between turns.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from pydantic import BaseModel

from agent import dates
from agent.explain import explain
from agent.feedback import parse_feedback, positions_to_ids, shifted_range
from agent.plan import Plan, rule_plan
from agent.questions import Question, best_question
from agent.rerank import search_with_feedback
from agent.state import DialogueState, Turn
from tools import geo
from tools.people import PeopleBook
from tools.search import Searcher, SignalScore
from tools.store import PhotoStore

# A planner: (text, now, known names, known places, name -> person id) -> (plan, how it was made).
Planner = Callable[[str, datetime, list[str], list, dict[str, str]], tuple[Plan, str]]


class ShownPhoto(BaseModel):
    number: int  # what the person types back: "#3 is close"
    id: str
    path: str
    score: float
    taken_at: str | None
    place: str | None
    why: dict[str, SignalScore]
    explanation: str


class AgentReply(BaseModel):
    message: str
    question: Question | None = None
    results: list[ShownPhoto] = []
    planner: str = "rules"
    notices: list[str] = []


def rules_planner(text: str, now: datetime, names: list[str], places: list,
                  name_ids: dict[str, str]) -> tuple[Plan, str]:
    return rule_plan(text, now, names, places, name_ids=name_ids), "rules"


class Agent:
    def __init__(self, store: PhotoStore, searcher: Searcher, planner: Planner | None = None,
                 now: datetime | None = None, shown: int = 10):
        self.store = store
        self.searcher = searcher
        self.planner = planner or rules_planner
        self.now = now
        self.shown = shown

    def turn(self, state: DialogueState, text: str) -> AgentReply:
        now = self.now or datetime.now()
        text = " ".join((text or "").split())[:2000]
        notices: list[str] = []
        planner_used = "none"
        to_plan = text
        shown_before = state.last_shown
        if shown_before:
            feedback = parse_feedback(text, len(shown_before))
            if not feedback.empty:
                state.like(positions_to_ids(feedback.liked, shown_before))
                state.reject(positions_to_ids(feedback.rejected, shown_before)
                             + (list(shown_before) if feedback.reject_all else []))
                if feedback.date_shift:
                    records = self.store.get_photos(shown_before)
                    state.plan.date_range = shifted_range(feedback.date_shift,
                                                          [r.taken_at for r in records.values()],
                                                          state.plan.date_range)
                to_plan = feedback.extra_visual
        if state.pending is not None and to_plan and self._take_answer(state, to_plan, notices):
            to_plan = ""
        state.pending = None
        if to_plan.strip():
            book = PeopleBook(self.store)
            name_ids = {c.name: c.id for c in book.clusters() if c.name}
            plan, planner_used = self.planner(to_plan, now, list(name_ids), self.store.get_meta("places", []),
                                              name_ids)
            notices += plan.unknown
            state.merge(plan)

        results = search_with_feedback(self.searcher, state.plan, state, k=max(self.shown, 10))
        records = self.store.get_photos([r.id for r in results])
        question = None
        if results:
            top = [records[r.id] for r in results[:10] if r.id in records]
            question = best_question(top, [r.score for r in results[: len(top)]])
            if question is not None and question.attribute in state.answers:
                question = None  # asked already: the person answered what they could
        shown = [ShownPhoto(number=i, id=r.id, path=r.path, score=r.score, taken_at=r.taken_at, place=r.place,
                            why=r.why, explanation=explain(r, records[r.id], state.plan))
                 for i, r in enumerate(results[: self.shown], start=1) if r.id in records]
        message = self._message(shown, question, state)
        state.pending = question
        state.turns.append(Turn(user=text, agent=message, question=question.text if question else None,
                                shown=[p.id for p in shown]))
        return AgentReply(message=message, question=question, results=shown, planner=planner_used,
                          notices=notices)

    def _take_answer(self, state: DialogueState, text: str, notices: list[str]) -> bool:
        """Turn an answer to the last question into a constraint; False if it is no answer."""
        question = state.pending
        said = text.casefold()
        chosen = next((o for o in question.options if o.casefold() in said), None)
        if question.attribute.startswith("tag:"):
            tag = question.attribute[4:]
            if said.startswith(("yes", "yeah", "yep")) or tag in said and "not" not in said:
                state.plan.required_tags = list(dict.fromkeys(state.plan.required_tags + [tag]))
            elif said.startswith(("no", "nope")) or "not" in said:
                state.plan.exclude = list(dict.fromkeys(state.plan.exclude + [tag]))
            else:
                return False
            state.answers[question.attribute] = text
            return True
        if chosen is None:
            return False
        state.answers[question.attribute] = chosen
        if question.attribute == "year" and chosen.isdigit():
            state.plan.date_range = dates.resolve_date_phrase(chosen, self.now or datetime.now())
        elif question.attribute in ("country", "city"):
            place = geo.resolve_place(chosen, [geo.Place(**p) for p in self.store.get_meta("places", [])])
            if place is not None:
                state.plan.place = place
            else:
                notices.append(f"place {chosen!r} not understood")
        elif question.attribute.startswith("person:"):
            state.plan.person_ids = list(dict.fromkeys(state.plan.person_ids + [question.attribute[7:]]))
        return True

    @staticmethod
    def _message(shown: list[ShownPhoto], question: Question | None, state: DialogueState) -> str:
        if not shown:
            return "I found nothing that fits yet. Tell me something else you remember: where, when, who?"
        if question is not None:
            return f"A few photos could be it. {question.text}"
        lead = "This looks like it" if len(state.turns) == 0 else "Here is my best guess now"
        return f"{lead}: #1 ({shown[0].explanation}). Say \"#N is close\" or \"not 1\" to steer me."
