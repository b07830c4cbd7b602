"""The action kinds of a mapping, each declaring what it reads and what it writes.

An action kind is one class. Its dataclass fields say what a mapping file may write under its
`[[action]]` (declared with `source`, `attribute_map` and `name`, from which the parser takes its
keys, checks and defaults), and its `targets()` say which records it asserts, in order: the
object, the matching attribute and where its value comes from, the extra attributes, and the
attributes the action fills itself (`Fill`), among them the links between its records. The
planner (`toolkit.plan`), the pre-flight check (`toolkit.preflight`) and the mapping parser and
writer (`toolkit.mapping`) all work from those declarations, so a new kind is one class here
(plus its tests) and nothing elsewhere.

A link a `Fill` makes to an object the action itself asserts points at that record of the same
event; a link to any other object is found by the value of its field, matched on the target
object's shorthand attribute (a user by `user_id`, see `toolkit.values.references`).
"""

from __future__ import annotations

from dataclasses import Field, dataclass, field, fields
from typing import Any, ClassVar, Final, Literal

from .sources import Source

__all__ = [
    "ACTION_TYPES",
    "Action",
    "AssertRecord",
    "Fill",
    "GroupWorkspace",
    "IdentifyUser",
    "Options",
    "Target",
    "attribute_map",
    "name",
    "source",
]

NullPolicy = Literal["skip", "unset"]
MultiselectPolicy = Literal["append", "replace"]

#: What a declared field holds, in the metadata of its dataclass field.
FieldRole = Literal["source", "map", "name"]


@dataclass(frozen=True)
class Options:
    """What every value of an action does; the top of the file sets them for all actions."""

    nulls: NullPolicy = "skip"
    multiselect: MultiselectPolicy = "append"
    phone_region: str | None = None


# -- declaring fields ------------------------------------------------------------------------


def source(*paths: str, may_be_off: str | None = None) -> Any:
    """A field read from the event, by default at `paths` (the first present wins).

    `may_be_off` says what `key = false` in the file turns off (an empty `Source` then).
    """
    return field(default_factory=lambda: Source.of(*paths),
                 metadata={"role": "source", "may_be_off": may_be_off})


def attribute_map() -> Any:
    """A table of extra attributes: Attio attribute slug -> source."""
    return field(default_factory=dict, metadata={"role": "map"})


def name(example: str) -> Any:
    """A required Attio slug or id written in the file (never read from events)."""
    return field(default="", metadata={"role": "name", "example": example})


def _declared(cls: type[Action], role: FieldRole) -> tuple[Field[Any], ...]:
    return tuple(f for f in fields(cls) if f.metadata.get("role") == role)


# -- what an action writes ---------------------------------------------------------------------


@dataclass(frozen=True)
class Fill:
    """An attribute an action fills itself on a target, from one of its source fields.

    Attributes:
        slug: the attribute written.
        field: the action's source field the value comes from.
        links_to: for a link between records, the object it points at; the record is the one
            this action asserts of that object, else found by the field's value.
    """

    slug: str
    field: str
    links_to: str | None = None


@dataclass(frozen=True)
class Target:
    """One record an action asserts, and what the action itself writes on it.

    Attributes:
        object: the object slug (or id, for assert-record).
        role: the record's name in messages ("person", "user", "record"...).
        matching: the matching attribute.
        matching_field: the source field that holds the matching value; None when the value
            comes from the attribute map (then `named_by` names the fields that say the object
            and the matching attribute).
        map_field: the field of extra attributes (``person_attributes``...).
        attributes: the extra attributes, slug -> source.
        fills: the attributes the action fills itself, in the order it writes them.
        named_by: for a target named in the file: (object field, matching attribute field).
    """

    object: str
    role: str
    matching: str
    matching_field: str | None
    map_field: str
    attributes: dict[str, Source]
    fills: tuple[Fill, ...] = ()
    named_by: tuple[str, str] | None = None

    @property
    def builtin(self) -> dict[str, str]:
        """Attributes the action fills itself (the matching one included) -> their source field."""
        found = {self.matching: self.matching_field} if self.matching_field else {}
        found.update((f.slug, f.field) for f in self.fills)
        return found

    @property
    def links(self) -> dict[str, str]:
        """Link attributes the action fills itself -> the object each points at."""
        return {f.slug: f.links_to for f in self.fills if f.links_to}


# -- the kinds ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One action of a mapping. `index` counts from 1 in file order; `line` is its `[[action]]`.

    A kind sets `kind` (its name in files), `default_on` (the event types it takes unless the
    file says), declares its fields, and says in `targets()` what it writes.
    """

    kind: ClassVar[str]
    default_on: ClassVar[tuple[str, ...]] = ()
    on: tuple[str, ...]
    options: Options = Options()
    index: int = 1
    # Where the action was written, not what it does: two mappings that say the same thing
    # compare equal wherever their actions sit in the file.
    line: int | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        """How findings and messages name the action: ``action 1 (identify-user)``."""
        return f"action {self.index} ({self.kind})"

    def targets(self) -> tuple[Target, ...]:
        """The records this action asserts, in the order it asserts them."""
        raise NotImplementedError

    # The declarations, as the parser and writer read them.

    @classmethod
    def source_fields(cls) -> tuple[str, ...]:
        """Fields read from the event, in declaration order."""
        return tuple(f.name for f in _declared(cls, "source"))

    @classmethod
    def map_fields(cls) -> tuple[str, ...]:
        """Attribute-map fields, in declaration order."""
        return tuple(f.name for f in _declared(cls, "map"))

    @classmethod
    def name_fields(cls) -> dict[str, str]:
        """Required slug fields -> an example value for messages."""
        return {f.name: f.metadata["example"] for f in _declared(cls, "name")}

    @classmethod
    def may_be_off(cls, key: str) -> str | None:
        """What `key = false` turns off, when the field allows it."""
        return next((f.metadata["may_be_off"] for f in _declared(cls, "source") if f.name == key), None)

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """Every key its `[[action]]` may hold besides kind, on and the options."""
        return (*cls.name_fields(), *cls.source_fields(), *cls.map_fields())


@dataclass(frozen=True)
class IdentifyUser(Action):
    """`identify` → a Person matched on email and a User matched on user id, linked."""

    kind: ClassVar[str] = "identify-user"
    default_on: ClassVar[tuple[str, ...]] = ("identify",)
    email: Source = source("$.traits.email", "$.email", "$.context.traits.email")
    user_id: Source = source("$.userId")
    person_attributes: dict[str, Source] = attribute_map()
    user_attributes: dict[str, Source] = attribute_map()

    def targets(self) -> tuple[Target, ...]:
        return (
            Target("people", "person", "email_addresses", "email", "person_attributes", self.person_attributes),
            Target("users", "user", "user_id", "user_id", "user_attributes", self.user_attributes,
                   fills=(Fill("primary_email_address", "email"), Fill("person", "email", links_to="people"))),
        )


@dataclass(frozen=True)
class GroupWorkspace(Action):
    """`group` → a Company matched on domain and a Workspace matched on workspace id, linked,
    with the event's user (when there is one) added to the workspace's users.

    `user_id = false` in the file turns the user link off (an empty `Source`).
    """

    kind: ClassVar[str] = "group-workspace"
    default_on: ClassVar[tuple[str, ...]] = ("group",)
    domain: Source = source("$.traits.website", "$.website")
    workspace_id: Source = source("$.groupId", "$.context.group_id")
    user_id: Source = source("$.userId", may_be_off="the user link")
    company_attributes: dict[str, Source] = attribute_map()
    workspace_attributes: dict[str, Source] = attribute_map()

    def targets(self) -> tuple[Target, ...]:
        fills = [Fill("company", "domain", links_to="companies")]
        if self.user_id.is_set:
            fills.append(Fill("users", "user_id", links_to="users"))
        return (
            Target("companies", "company", "domains", "domain", "company_attributes", self.company_attributes),
            Target("workspaces", "workspace", "workspace_id", "workspace_id", "workspace_attributes",
                   self.workspace_attributes, fills=tuple(fills)),
        )


@dataclass(frozen=True)
class AssertRecord(Action):
    """Any event type it names → one record of any object, matched on one attribute."""

    kind: ClassVar[str] = "assert-record"
    object: str = name("people")
    matching_attribute: str = name("email_addresses")
    attributes: dict[str, Source] = attribute_map()

    def targets(self) -> tuple[Target, ...]:
        return (Target(self.object, "record", self.matching_attribute, None, "attributes", self.attributes,
                       named_by=("object", "matching_attribute")),)


#: Every action kind by its name in mapping files.
ACTION_TYPES: Final[dict[str, type[Action]]] = {
    cls.kind: cls for cls in (IdentifyUser, GroupWorkspace, AssertRecord)
}
