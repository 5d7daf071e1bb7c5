"""One turn of the conversation: words in; a message, maybe a question, and ranked photos out.

A turn (0) tidies spoken phrasing (``agent.spoken.tidy_spoken``: fillers, self-corrections),
(1) reads feedback on the photos shown last ("#3 is close", "not 1 or 2", "earlier than that",
"not that one, the other one", "#3, same place but at night"), (2) takes an answer to the
question asked last, (3) turns whatever else the person said into an action (an LLM planner
when one is loaded, else rules; dates and places are always resolved in code): a search plan,
or a call of another tool (``similar_to`` likes that photo, ``same_event`` shows the rest of its
occasion and keeps the search to that event from then on, ``show_burst`` every frame of the
burst a photo stands for ("not 3" about a burst's cover turns all its frames down),
``photo_details`` and ``list_people`` answer in the message), (4) merges a plan into the
dialogue's plan, (5) searches and re-ranks with the feedback so far, (6) asks the question that
best splits the top candidates when no photo is clearly ahead, and (7) explains each result.
The state is a plain pydantic object the caller saves between turns.

With an LLM planner, ``turn(..., on_quick=callback)`` first runs the whole turn with the rules on
a copy of the state and hands that reply to the callback (a few hundred milliseconds: results for
the person's own words on screen at once), then lets the LLM refine.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Callable

from pydantic import BaseModel

from agent.explain import explain
from agent.feedback import Feedback, parse_feedback, positions_to_ids, same_day, same_place, shifted_range
from agent.phrasing import Phraser
from agent.plan import Action, Plan, PlanContext, rule_action, rule_tool_call
from agent.spoken import tidy_spoken
from agent.questions import Question, best_question, event_answer
from agent.rerank import search_with_feedback
from agent.state import DialogueState, Turn
from tools.dates import date_phrases as dates
from tools.places import geo, home, library_places
from tools.understand.people import PeopleBook
from tools.query.search import SearchResult, Searcher, SignalScore
from tools.index.store import PhotoStore
from tools.query.toolbox import (ListPeople, PhotoDetails, PhotoFacts, SameEvent, ShowBurst, SimilarTo,
                                  burst_frames, list_people, photo_details, same_event)

# A planner: (text, what it knows) -> (a plan or another tool's call, how it was decided).
Planner = Callable[[str, PlanContext], tuple[Action, str]]


class ShownPhoto(BaseModel):
    number: int  # what the person types back: "#3 is close"
    id: str
    path: str
    score: float
    taken_at: str | None
    place: str | None
    why: dict[str, SignalScore]
    explanation: str
    text_in_photo: str = ""  # what OCR (or the captioner) read in it, for the details


class AgentReply(BaseModel):
    message: str
    question: Question | None = None
    results: list[ShownPhoto] = []
    planner: str = "rules"
    notices: list[str] = []


def rules_planner(text: str, ctx: PlanContext) -> tuple[Action, str]:
    return rule_action(text, ctx), "rules"


class Agent:
    def __init__(self, store: PhotoStore, searcher: Searcher, planner: Planner | None = None,
                 now: datetime | None = None, shown: int = 10, phraser: Phraser | None = None,
                 ask: bool = True):
        self.store = store
        self.searcher = searcher
        self.planner = planner or rules_planner
        self.now = now
        self.shown = shown
        self.phraser = phraser  # words a question in context (the LLM); None: the template
        self.ask = ask  # False: never ask a clarifying question (feedback alone steers)

    def _anchors(self, text: str) -> dict:
        """Home and work, read from the library only when the words name one (a pass over it)."""
        if home.find(text) is None:
            return {}
        if not hasattr(self, "_anchor_cache"):
            self._anchor_cache = home.anchors_from_store(self.store, getattr(self.store, "settings", None))
        return self._anchor_cache

    def turn(self, state: DialogueState, text: str,
             on_quick: Callable[[AgentReply], None] | None = None) -> AgentReply:
        if on_quick is not None and self.planner is not rules_planner:
            on_quick(self._turn(state.model_copy(deep=True), text, rules_planner))
        return self._turn(state, text, self.planner)

    def _turn(self, state: DialogueState, text: str, planner: Planner) -> AgentReply:
        now = self.now or datetime.now()
        # Lone surrogates (undecodable bytes from a terminal or argv) cannot be saved: replace them.
        heard = " ".join((text or "").encode("utf-8", "replace").decode("utf-8").split())[:2000]
        # Spoken phrasing: fillers out, self-corrections applied, before anything reads the words.
        text = tidy_spoken(heard, now)
        notices: list[str] = []
        planner_used = "none"
        to_plan = text
        shown_before = state.last_shown
        that = state.that_one()
        asked_tool = rule_tool_call(text, len(shown_before),  # "details of #2" is no feedback on #2
                                    that=shown_before.index(that) + 1 if that in shown_before else None)
        # "the second one" answers "which occasion?" before it can be read as liking #2.
        if asked_tool is None and state.pending is not None and self._take_event_answer(state, text):
            to_plan, state.pending = "", None
        elif asked_tool is None and state.pending is not None and self._take_no_answer(state, text, heard):
            to_plan, state.pending = "", None  # "neither" answers the question; it rejects no photo
        elif asked_tool is None and (shown_before or re.search(r"#\s*\d", text)):
            feedback = parse_feedback(text, len(shown_before))
            if feedback.missing:
                notices.append(_not_on_screen(feedback.missing, len(shown_before)))
            if not feedback.empty:
                self._apply_feedback(state, feedback, shown_before, notices)
                to_plan = feedback.extra_visual
        if state.pending is not None and to_plan and self._take_answer(state, to_plan, notices):
            to_plan = ""
        state.pending = None
        answer = ""
        occasion: list[SearchResult] | None = None  # same_event's photos, when it found an event
        action: Action | None = asked_tool
        if asked_tool is not None:  # the rules are sure what tool is meant: no planner needed
            answer, occasion = self._run_tool(asked_tool, state, shown_before)
            to_plan, planner_used = "", "rules"
        if to_plan.strip():
            book = PeopleBook(self.store)
            name_ids = {c.name: c.id for c in book.clusters() if c.name}
            ctx = PlanContext(now=now, names=list(name_ids), places=self.store.get_meta("places", []),
                              name_ids=name_ids, shown=len(shown_before), anchors=self._anchors(to_plan),
                              events=library_places.LibraryEvents(self.store, self.searcher.models))
            action, planner_used = planner(to_plan, ctx)
            if isinstance(action, Plan):
                notices += action.unknown
                anchor = home.anchor_of(action.place, ctx.anchors)
                if anchor is not None:  # say where "home" was taken to be, and how to correct it
                    notices.append(anchor.explain())
                state.merge(action)
            else:
                answer, occasion = self._run_tool(action, state, shown_before)

        # A question about the list keeps the list: the last one is ranked again as it was ranked.
        seen = ({i for turn in state.turns[:-1] for i in turn.shown}
                if isinstance(action, (PhotoDetails, ListPeople, SameEvent)) else None)
        if occasion is not None:  # the rest of the occasion, in the order it happened
            results = occasion
        else:
            results = search_with_feedback(self.searcher, state.plan, state, k=max(self.shown, 10), seen=seen)
            if not results and (state.plan.place is not None or state.plan.event) and state.plan.visual:
                results = self._relax_empty(state, seen, notices)
        records = self.store.get_photos([r.id for r in results])
        question = None
        if results and not answer and self.ask:  # a tool's answer is the reply; a question would bury it
            top = [records[r.id] for r in results[:10] if r.id in records]
            said = " ".join([state.plan.visual, *state.plan.exclude, *state.plan.required_tags])
            question = best_question(top, [r.score for r in results[: len(top)]], said=said)
            if question is not None and question.attribute in state.answers:
                question = None  # asked already: the person answered what they could
            # An event question's template already says each occasion whole; a rewording must keep
            # every label, which the small model rarely does (agent.phrasing.acceptable).
            if (question is not None and self.phraser is not None and planner is not rules_planner
                    and question.attribute != "event"):
                question = question.model_copy(update={"text": self.phraser(question, state.plan.visual)})
        shown = [ShownPhoto(number=i, id=r.id, path=r.path, score=r.score, taken_at=r.taken_at, place=r.place,
                            why=r.why, explanation=explain(r, records[r.id], state.plan),
                            text_in_photo=records[r.id].text_in_photo)
                 for i, r in enumerate(results[: self.shown], start=1) if r.id in records]
        message = self._message(shown, question, state, answer)
        state.pending = question
        state.turns.append(Turn(user=heard, agent=message, question=question.text if question else None,
                                shown=[p.id for p in shown]))
        return AgentReply(message=message, question=question, results=shown, planner=planner_used,
                          notices=notices)

    def _apply_feedback(self, state: DialogueState, fb: Feedback, shown: list[str], notices: list[str]) -> None:
        """Likes and rejections by number or in words ("that one", "the other one"), date shifts
        relative to the photos referred to, and "same place" / "same day" (agent.feedback)."""
        liked, rejected = positions_to_ids(fb.liked, shown), positions_to_ids(fb.rejected, shown)
        # "not that one, the other one": "that one" is read before the rejection moves it on.
        that, other = state.that_one(), state.other_one()
        for refs, into in ((fb.liked_refs, liked), (fb.rejected_refs, rejected)):
            for ref in refs:
                photo = that if ref == "that" else other
                if photo is None:
                    words = "that one" if ref == "that" else "the other one"
                    notices.append(f"which photo is {words!r}? Say its number (#1 to #{len(shown)})")
                elif photo not in into:
                    into.append(photo)
        liked = [i for i in liked if i not in rejected]
        state.like(liked)
        # A burst's cover stands for its frames: "not 3" turns them all down, or the next
        # sharpest frame of the same moment would take its place.
        state.reject(self._with_frames(rejected + (list(shown) if fb.reject_all else [])))
        referred = rejected + liked  # the liked last: "not 2, that one" is about that one
        state.refer(referred)
        if fb.date_shift:  # "that one but earlier": than that one; "earlier than that": than the list
            ids = referred or shown
            dates = [r.taken_at for r in self.store.get_photos(ids).values()]
            state.plan.date_range = shifted_range(fb.date_shift, dates, state.plan.date_range)
        anchor = state.anchor(referred) if fb.same else None
        record = self.store.get_photos([anchor]).get(anchor) if anchor else None
        number = shown.index(anchor) + 1 if anchor in shown else None
        for what in fb.same:
            found = (same_place if what == "place" else same_day)(record, number) if record else None
            if record is None:
                notices.append(f"the same {what} as which photo? Say its number")
            elif found is None:
                notices.append(f"#{number or '?'} has no {what} recorded: the {what} stays as it was")
            elif what == "place":
                state.plan = state.plan.model_copy(update={"place": found, "place_phrase": "same place"})
            else:
                state.plan = state.plan.model_copy(update={"date_range": found, "date_phrase": "same day"})

    def _with_frames(self, ids: list[str]) -> list[str]:
        """``ids`` and the other frames of the bursts among them."""
        records = self.store.get_photos(ids)
        out = list(ids)
        for photo_id in ids:
            record = records.get(photo_id)
            if record is not None and record.burst_id:
                out += [r.id for r in burst_frames(self.searcher, photo_id)]
        return list(dict.fromkeys(out))

    def _take_event_answer(self, state: DialogueState, text: str) -> bool:
        """An answer to "which occasion?" narrows the plan to that event; False if it is none."""
        question = state.pending
        chosen = event_answer(question, text)
        if chosen is None:
            return False
        label = question.options[question.option_ids.index(chosen)]
        state.answers[question.attribute] = label
        state.plan = state.plan.with_event(chosen, label)
        return True

    def _take_no_answer(self, state: DialogueState, text: str, heard: str = "") -> bool:
        """"neither" / "none of those" (the options are ruled out: they step back) or "I don't know"
        (nothing changes) as the answer to the question asked; either way it is not asked again.
        False when the words are no such answer. ``heard``: the words before tidying, which takes
        "I don't know" out as a filler."""
        question = state.pending
        said = " ".join(text.casefold().split()).rstrip(".!")
        dont_know = _DONT_KNOW.fullmatch(said) or (not said and _DONT_KNOW.search(heard.casefold()))
        if dont_know or (_NEITHER.fullmatch(said) and question.options == ["yes", "no"]):
            state.answers[question.attribute] = "don't know"
            return True
        if not _NEITHER.fullmatch(said):
            return False
        state.answers[question.attribute] = "neither"
        values = question.option_ids if question.attribute == "event" else question.options
        if question.attribute in ("year", "country", "city", "faces", "event"):
            state.plan.ruled_out = list(dict.fromkeys(
                state.plan.ruled_out + [f"{question.attribute}={v}" for v in values]))
        return True

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
        elif question.attribute == "faces":
            state.plan.faces = chosen
        elif question.attribute.startswith("person:"):
            state.plan.person_ids = list(dict.fromkeys(state.plan.person_ids + [question.attribute[7:]]))
        return True

    def _relax_empty(self, state: DialogueState, seen: set[str] | None, notices: list[str]) -> list:
        """Nothing fits the words AND the place (or the event). If the place has photos, the words
        are what matched nothing there: say so and show the place's photos (the words stay in the
        plan). If it has none, the place is the likelier mistake ("St Patrick's day" is also a town
        in Dominica): drop it, say so, and search everywhere."""
        label = (state.plan.event_label or "that event") if state.plan.event else state.plan.place.label
        k = max(self.shown, 10)
        in_place = search_with_feedback(self.searcher, state.plan.model_copy(update={"visual": ""}), state,
                                        k=k, seen=seen)
        if in_place:
            blind = "" if self.searcher.models.clip_available() else (
                " (visual search is off, so only words people or models wrote can match)")
            notices.append(f"no photo in {label} matches {state.plan.visual!r}{blind}: showing your photos in {label}")
            return in_place
        state.plan = state.plan.model_copy(update={"place": None, "place_phrase": None, "event": None,
                                                   "event_label": None})
        notices.append(f"nothing matched in {label}: searching everywhere")
        return search_with_feedback(self.searcher, state.plan, state, k=k, seen=seen)

    def _run_tool(self, call: SimilarTo | PhotoDetails | ListPeople | SameEvent, state: DialogueState,
                  shown_before: list[str]) -> tuple[str, list[SearchResult] | None]:
        """Carry out a call that is not a search: what to tell the person about it, and for
        ``same_event`` the occasion's photos to show (None: the usual search shows what it finds)."""
        if isinstance(call, SameEvent):
            return self._same_event(call, state, shown_before)
        if isinstance(call, ShowBurst):
            return self._show_burst(call, state, shown_before)
        return self._run_other_tool(call, state, shown_before), None

    @staticmethod
    def _on_screen(number: int, state: DialogueState, shown_before: list[str]) -> str | None:
        """The id of photo #``number`` of the list shown, now the one the dialogue refers to; None
        when there is no such number on screen."""
        if not 1 <= number <= len(shown_before):
            return None
        photo_id = shown_before[number - 1]
        state.refer([photo_id])
        return photo_id

    def _show_burst(self, call: ShowBurst, state: DialogueState,
                    shown_before: list[str]) -> tuple[str, list[SearchResult] | None]:
        photo_id = self._on_screen(call.photo, state, shown_before)
        if photo_id is None:
            return f"There is no #{call.photo} on screen.", None
        frames = burst_frames(self.searcher, photo_id)
        if not frames:
            return f"#{call.photo} is a single photo, not one of a burst.", None
        return f"The {len(frames)} frames of #{call.photo}'s burst, in order:", frames

    def _same_event(self, call: SameEvent, state: DialogueState,
                    shown_before: list[str]) -> tuple[str, list[SearchResult] | None]:
        photo_id = self._on_screen(call.photo, state, shown_before)
        if photo_id is None:
            return f"There is no #{call.photo} on screen.", None
        record = self.store.get_photos([photo_id]).get(photo_id)
        if record is None or not record.event_id:
            return (f"#{call.photo} has no date from a camera, so I cannot tell which occasion it is from.",
                    None)
        # From now on the search stays inside this event: "the one with the cake" means of that day.
        state.plan = state.plan.with_event(record.event_id, record.event_label)
        rejected = set(state.rejected)
        found = [r for r in same_event(self.searcher, photo_id, k=max(self.shown, 10) + len(rejected))
                 if r.id not in rejected][: max(self.shown, 10)]
        label = record.event_label or "the same occasion"
        if not found:
            return f"#{call.photo} is the only photo from {label}.", []
        return f"Other photos from {label} (the occasion of #{call.photo}), in order:", found

    def _run_other_tool(self, call: SimilarTo | PhotoDetails | ListPeople, state: DialogueState,
                        shown_before: list[str]) -> str:
        if isinstance(call, ListPeople):
            people = list_people(self.store)
            if not people:
                return "I know nobody by face yet (indexing finds faces; `recall people` names them)."
            named = [f"{p.name} ({p.count})" for p in people if p.name]
            unnamed = sum(1 for p in people if not p.name)
            text = f"People I know: {', '.join(named)}." if named else "No one has a name yet."
            return text + (f" {unnamed} more without a name (`recall people name`)." if unnamed else "")
        if not 1 <= call.photo <= len(shown_before):
            return f"There is no #{call.photo} on screen."
        photo_id = shown_before[call.photo - 1]
        state.refer([photo_id])  # "same place as that one" after "details of #2" means #2
        if isinstance(call, SimilarTo):
            state.like([photo_id])
            return f"Photos like #{call.photo}:"
        facts = photo_details(self.store, photo_id)
        return describe(call.photo, facts) if facts else f"#{call.photo} is no longer in the index."

    @staticmethod
    def _message(shown: list[ShownPhoto], question: Question | None, state: DialogueState,
                 answer: str = "") -> str:
        if answer:
            return answer
        if not shown:
            return "I found nothing that fits yet. Tell me something else you remember: where, when, who?"
        if question is not None:
            return f"A few photos could be it. {question.text}"
        lead = "This looks like it" if len(state.turns) == 0 else "Here is my best guess now"
        return f"{lead}: #1 ({shown[0].explanation}). Say \"#N is close\" or \"not 1\" to steer me."


# Answers to a question that pick none of its options.
_NEITHER = re.compile(r"(?:no,?\s+)?(?:neither(?: of (?:them|those|these))?|none(?: of (?:them|those|these))?|"
                      r"(?:it was\s+)?(?:somewhere|someone|some ?time) else|(?:it was\s+)?another (?:one|year|place|"
                      r"town|city|country|day)|not (?:any|one) of (?:them|those|these))")
_DONT_KNOW = re.compile(r"(?:i\s+)?(?:don'?t|do not|dont) (?:know|remember)|not sure|no idea|dunno|"
                        r"(?:i\s+)?can'?t (?:say|tell|remember)|i'?m not sure|no clue")


def _not_on_screen(numbers: list[int], shown: int) -> str:
    names = " or ".join(f"#{n}" for n in numbers)
    if not shown:
        return f"there is no {names} on screen: no photos are shown yet"
    return f"there is no {names} on screen (#1 to #{shown} are shown)"


def describe(number: int, facts: PhotoFacts) -> str:
    """``photo_details`` in a sentence or two."""
    parts = [f"#{number}: {facts.path}"]
    if facts.taken_at:
        parts.append(f"taken {facts.taken_at[:16].replace('T', ' ')}"
                     + (" (file date: no date in the photo)" if facts.date_source == "file" else ""))
    for label, value in (("at", facts.place), ("with", ", ".join(facts.people)), ("camera", facts.camera),
                         ("tags", ", ".join(facts.tags[:8])), ("your caption", facts.user_text[:120]),
                         ("caption", facts.caption[:120])):
        if value:
            parts.append(f"{label} {value}")
    return "; ".join(parts) + "."
