"""People: face clusters kept in the store, and what a user does with them.

Faces live in the ``faces`` collection (one 128-d dlib embedding each, linked to its photo and
its cluster); clusters in ``people`` (centroid as the embedding, name and size as metadata).
New faces join existing clusters as photos are indexed (``tools.understand.faces.assign``); nothing is
ever re-clustered wholesale. A user can name, merge, split and unassign; a face the user took
out of a cluster is marked so that no later run puts it back.
"""
from __future__ import annotations

import functools

from tools.lazy import lazy_module
from pydantic import BaseModel

from tools.understand import faces as face_model
from tools.index.records import readable_path
from tools.index.store import PhotoStore

# numpy/PIL on first use (tools/lazy.py): `recall status` and `recall people` need neither
np = lazy_module("numpy")

SPLIT_THRESHOLD = 0.4  # stricter than MATCH_THRESHOLD: a split separates look-alikes


class PeopleError(ValueError):
    """A request about people that cannot be done, worded for the user."""


def _edit(method):
    """A person's edit: this index's writer lock (no other process writes meanwhile) and the
    store's commit lock (nor does another thread of this one, e.g. the chat app's indexer)."""
    @functools.wraps(method)
    def wrapper(self: "PeopleBook", *args, **kwargs):
        with self.store.writing(f"recall people {method.__name__}"), self.store.commit_lock:
            return method(self, *args, **kwargs)

    return wrapper


class Person(BaseModel):
    id: str
    name: str | None
    count: int  # faces
    photos: list[str]  # paths

    @property
    def label(self) -> str:
        return self.name or self.id


class PeopleBook:
    def __init__(self, store: PhotoStore):
        self.store = store
        self.faces = store.client.get_or_create_collection(
            "faces", embedding_function=None, configuration={"hnsw": {"space": "l2"}})
        self.people = store.client.get_or_create_collection(
            "people", embedding_function=None, configuration={"hnsw": {"space": "l2"}})

    # ---- clusters ------------------------------------------------------------------------------
    def clusters(self, centroids: bool = True) -> list[face_model.Cluster]:
        """Every person; without ``centroids`` (listing, counting) the vectors are not read, which
        spares `recall people` and `recall status` numpy and the vector files."""
        found = self.people.get(include=["embeddings", "metadatas"] if centroids else ["metadatas"])
        vectors = found["embeddings"] if centroids else [[] for _ in found["ids"]]
        return [face_model.Cluster(id=id_, centroid=list(map(float, emb)), count=int(meta.get("count", 0)),
                                   name=meta.get("name") or None)
                for id_, emb, meta in zip(found["ids"], vectors, found["metadatas"])]

    def save_clusters(self, clusters: list[face_model.Cluster]) -> None:
        if clusters:
            self.people.upsert(ids=[c.id for c in clusters], embeddings=[c.centroid for c in clusters],
                               metadatas=[{"count": c.count, **({"name": c.name} if c.name else {})}
                                          for c in clusters])

    def new_id(self) -> str:
        """Short ids a person can type: p1, p2, ..."""
        number = int(self.store.get_meta("next_person", 1))
        self.store.set_meta("next_person", number + 1)
        return f"p{number}"

    def add_faces(self, photo_id: str, found: list[face_model.Face]) -> None:
        """Store one photo's faces, replacing what an earlier run stored for it."""
        self.faces.delete(where={"photo_id": photo_id})
        if found:
            self.faces.upsert(
                ids=[f"{photo_id}-{i}" for i in range(len(found))],
                embeddings=[f.embedding for f in found],
                metadatas=[{"photo_id": photo_id, "cluster": "", "left": f.box.left, "top": f.box.top,
                            "right": f.box.right, "bottom": f.box.bottom, "quality": float(f.quality)}
                           for f in found])

    def cluster_new_faces(self, photo_ids: list[str]) -> dict[str, list[str]]:
        """Assign the unassigned faces of these photos to people; photo id -> its people."""
        pending = self.faces.get(where={"$and": [{"photo_id": {"$in": photo_ids}}, {"cluster": ""}]},
                                 include=["embeddings", "metadatas"]) if photo_ids else {"ids": []}
        if pending["ids"]:
            before = {c.id: c for c in self.clusters()}
            labels, after = face_model.assign(np.asarray(pending["embeddings"], dtype=np.float32),
                                              list(before.values()),
                                              photo_ids=[m["photo_id"] for m in pending["metadatas"]],
                                              new_id=self.new_id)
            changed = [c for c in after if c.id not in before or c.count != before[c.id].count]
            self.save_clusters(changed)
            self.faces.update(ids=pending["ids"], metadatas=[{**m, "cluster": label} for m, label in
                                                             zip(pending["metadatas"], labels)])
        return self.people_of(photo_ids)

    def people_of(self, photo_ids: list[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {p: [] for p in photo_ids}
        if not photo_ids:
            return out
        found = self.faces.get(where={"photo_id": {"$in": photo_ids}}, include=["metadatas"])
        for meta in found["metadatas"]:
            cluster = meta.get("cluster", "")
            if cluster and not cluster.startswith("!") and cluster not in out[meta["photo_id"]]:
                out[meta["photo_id"]].append(cluster)
        return out

    def forget_photos(self, photo_ids: list[str]) -> None:
        if photo_ids:
            self.faces.delete(where={"photo_id": {"$in": photo_ids}})

    # ---- what a user sees and does ---------------------------------------------------------------
    def list(self, with_photos: bool = True) -> list[Person]:
        clusters = self.clusters(centroids=False)
        faces = self.faces.get(include=["metadatas"])
        photo_ids: dict[str, list[str]] = {}
        for meta in faces["metadatas"]:
            photo_ids.setdefault(meta.get("cluster", ""), []).append(meta["photo_id"])
        records = self.store.get_photos({p for ids in photo_ids.values() for p in ids}) if with_photos else {}
        people = []
        for cluster in clusters:
            ids = photo_ids.get(cluster.id, [])
            paths = sorted({records[i].path for i in ids if i in records})
            people.append(Person(id=cluster.id, name=cluster.name, count=len(ids) or cluster.count, photos=paths))
        return sorted(people, key=lambda p: (p.name is None, -p.count, p.id))

    def find(self, who: str) -> face_model.Cluster:
        """A cluster by id or by name (case-insensitive)."""
        wanted = " ".join((who or "").split()).casefold()
        if not wanted:
            raise PeopleError("a person's name or id cannot be empty")
        clusters = self.clusters()
        for cluster in clusters:
            if cluster.id.casefold() == wanted or (cluster.name or "").casefold() == wanted:
                return cluster
        names = [c.name for c in clusters if c.name]
        close = face_model.close_names(who, names)
        hint = f"; did you mean {', '.join(close)}?" if close else (
            f"; known people: {', '.join(sorted(names)[:10])}" if names else "; no one has been named yet "
            "(`recall people` lists the clusters, `recall people name ID NAME` names one)")
        raise PeopleError(f"unknown person {who!r}{hint}")

    @_edit
    def name(self, who: str, name: str) -> face_model.Cluster:
        """Name a cluster; a name already in use merges the two, since they are one person."""
        try:
            name = face_model.normalize_name(name)
        except ValueError as error:
            raise PeopleError(str(error)) from None
        cluster = self.find(who)
        holder = next((c for c in self.clusters() if (c.name or "").casefold() == name.casefold()
                       and c.id != cluster.id), None)
        if holder is not None:
            cluster = self.merge(holder.id, cluster.id)
        cluster = cluster.model_copy(update={"name": name})
        self.save_clusters([cluster])
        return cluster

    @_edit
    def merge(self, into: str, other: str) -> face_model.Cluster:
        if not (into or "").strip() or not (other or "").strip():
            raise PeopleError("a person's name or id cannot be empty")
        a, b = self.find(into), self.find(other)
        if a.id == b.id:
            raise PeopleError(f"{into!r} and {other!r} are the same person already")
        merged = face_model.merge(a, b)
        moved = self.faces.get(where={"cluster": b.id}, include=["metadatas"])
        if moved["ids"]:
            self.faces.update(ids=moved["ids"], metadatas=[{**m, "cluster": a.id} for m in moved["metadatas"]])
        self.people.delete(ids=[b.id])
        self.save_clusters([merged])
        self._refresh_photos({m["photo_id"] for m in moved["metadatas"]})
        return merged

    @_edit
    def unassign(self, who: str, photo_path: str) -> None:
        """Take a photo's face out of a cluster, for good (a wrong match)."""
        cluster = self.find(who)
        records = [r for r in self.store.iter_photos({"path": readable_path(photo_path)}) if r.path == photo_path]
        if not records:
            raise PeopleError(f"{photo_path} is not in the index")
        faces = self.faces.get(where={"$and": [{"photo_id": records[0].id}, {"cluster": cluster.id}]},
                               include=["metadatas", "embeddings"])
        if not faces["ids"]:
            raise PeopleError(f"{cluster.name or cluster.id} has no face in {photo_path}")
        self.faces.update(ids=faces["ids"], metadatas=[{**m, "cluster": f"!{cluster.id}"} for m in faces["metadatas"]])
        self._recompute(cluster.id)
        self._refresh_photos({records[0].id})

    @_edit
    def split(self, who: str) -> list[face_model.Cluster]:
        """Re-cluster one cluster's faces with a stricter threshold (it mixed look-alikes)."""
        cluster = self.find(who)
        faces = self.faces.get(where={"cluster": cluster.id}, include=["metadatas", "embeddings"])
        if len(faces["ids"]) < 2:
            raise PeopleError(f"{cluster.name or cluster.id} has fewer than two faces: nothing to split")
        labels, parts = face_model.assign(np.asarray(faces["embeddings"], dtype=np.float32), [],
                                          photo_ids=[m["photo_id"] for m in faces["metadatas"]],
                                          threshold=SPLIT_THRESHOLD, new_id=self.new_id)
        if len(parts) == 1:
            raise PeopleError(f"{cluster.name or cluster.id} looks like one person: nothing to split")
        # The biggest part keeps the id and the name.
        biggest = max(parts, key=lambda c: c.count)
        renamed = {biggest.id: cluster.id}
        parts = [p.model_copy(update={"id": renamed.get(p.id, p.id),
                                      "name": cluster.name if p.id == biggest.id else None}) for p in parts]
        self.faces.update(ids=faces["ids"], metadatas=[{**m, "cluster": renamed.get(label, label)}
                                                       for m, label in zip(faces["metadatas"], labels)])
        self.save_clusters(parts)
        self._refresh_photos({m["photo_id"] for m in faces["metadatas"]})
        return parts

    def _recompute(self, cluster_id: str) -> None:
        faces = self.faces.get(where={"cluster": cluster_id}, include=["embeddings"])
        current = next(c for c in self.clusters() if c.id == cluster_id)
        if not faces["ids"]:
            self.people.delete(ids=[cluster_id])
            return
        centroid = np.mean(np.asarray(faces["embeddings"], dtype=np.float32), axis=0)
        self.save_clusters([current.model_copy(update={"centroid": centroid.tolist(), "count": len(faces["ids"])})])

    def _refresh_photos(self, photo_ids: set[str]) -> None:
        """Keep each photo's ``people`` field (and its copies on vector records) in step."""
        records = self.store.get_photos(photo_ids)
        people = self.people_of(list(records))
        for record in records.values():
            record.people = people[record.id]
        self.store.upsert_photos(list(records.values()))
        self.store.update_filter_fields(list(records.values()))

    def repair(self, faces_done_mark: str) -> dict[str, int]:
        """Make the bookkeeping add up again (an interrupted or concurrent run can leave it off):
        faces of photos no longer indexed go; faces pointing at a missing person, or at none,
        are clustered again; each person's count is its faces; people with no faces go; each
        photo's ``faces`` and ``people`` fields match its faces (photos marked ``faces_done_mark``:
        the others have no faces yet by design). Returns what was fixed."""
        with self.store.commit_lock:
            return self._repair(faces_done_mark)

    def _repair(self, faces_done_mark: str) -> dict[str, int]:
        fixed = {"orphan faces": 0, "faces without a person": 0, "person counts": 0,
                 "empty people": 0, "photo face fields": 0}
        indexed = self.store.all_ids()
        faces = self.faces.get(include=["metadatas"])
        orphans = [i for i, m in zip(faces["ids"], faces["metadatas"]) if m.get("photo_id") not in indexed]
        if orphans:
            self.faces.delete(ids=orphans)
            fixed["orphan faces"] = len(orphans)
        clusters = {c.id: c for c in self.clusters()}
        live = [(i, m) for i, m in zip(faces["ids"], faces["metadatas"]) if m.get("photo_id") in indexed]
        lost = [(i, m) for i, m in live if m.get("cluster") and not m["cluster"].startswith("!")
                and m["cluster"] not in clusters]
        if lost:
            self.faces.update(ids=[i for i, _ in lost], metadatas=[{**m, "cluster": ""} for _, m in lost])
        pending = {m["photo_id"] for i, m in live if not m.get("cluster")} | {m["photo_id"] for _, m in lost}
        if pending:
            fixed["faces without a person"] = sum(1 for _, m in live if not m.get("cluster")) + len(lost)
            self.cluster_new_faces(sorted(pending))
            clusters = {c.id: c for c in self.clusters()}
        counts: dict[str, int] = {}
        for meta in self.faces.get(include=["metadatas"])["metadatas"]:
            counts[meta.get("cluster", "")] = counts.get(meta.get("cluster", ""), 0) + 1
        empty = [c for c in clusters if not counts.get(c)]
        if empty:
            self.people.delete(ids=empty)
            fixed["empty people"] = len(empty)
        wrong = [c.model_copy(update={"count": counts[c.id]}) for c in clusters.values()
                 if counts.get(c.id) and counts[c.id] != c.count]
        self.save_clusters(wrong)
        fixed["person counts"] = len(wrong)
        fixed["photo face fields"] = self._repair_photo_fields(faces_done_mark)
        return fixed

    def _repair_photo_fields(self, done: str) -> int:
        """Photos whose face count or people disagree with their faces."""
        records = [r for r in self.store.iter_photos() if done in r.analyzed]
        counts: dict[str, int] = {}
        for meta in self.faces.get(include=["metadatas"])["metadatas"]:
            counts[meta["photo_id"]] = counts.get(meta["photo_id"], 0) + 1
        people = self.people_of([r.id for r in records])
        stale = []
        for record in records:
            faces, who = counts.get(record.id, 0), people.get(record.id, [])
            if record.faces != faces or sorted(record.people) != sorted(who):
                record.faces, record.people = faces, who
                stale.append(record)
        if stale:
            self.store.upsert_photos(stale)
            self.store.update_filter_fields(stale)
        return len(stale)

    def resolve(self, names: list[str]) -> list[str]:
        """Cluster ids for names or ids; raises PeopleError naming close matches."""
        return [self.find(name).id for name in names]


def people_filter(cluster_ids: list[str], mode: str = "all") -> dict | None:
    """A store ``where`` clause: photos with all / any / only these people."""
    if not cluster_ids:
        return None
    clauses = [{"people": {"$contains": c}} for c in cluster_ids]
    if mode == "any":
        return clauses[0] if len(clauses) == 1 else {"$or": clauses}
    if mode == "only":
        clauses.append({"faces": len(cluster_ids)})
    elif mode != "all":
        raise PeopleError(f"people mode must be all, any or only, not {mode!r}")
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}



