"""Who acts: a person (a User) or the system itself (scheduled jobs, commands, resumers).

`SYSTEM` is explicit: `None` is never an actor. Services ask `actor_require`, the one
permission check: a person needs the permission, the system is allowed, and `None` (an
actor nobody named) is refused, so a forgotten argument can never widen access.
"""

from archive.errors import ArchiveError

SYSTEM_NAME = "system"


class SystemActor:
    """The archive acting on its own behalf; stored as a NULL user and the name "system"."""

    pk = None
    id = None
    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False
    is_system = True

    def get_username(self) -> str:
        return SYSTEM_NAME

    def has_perm(self, perm: str, obj=None) -> bool:
        return True

    def __str__(self) -> str:
        return SYSTEM_NAME

    def __repr__(self) -> str:
        return "SYSTEM"

    def __reduce__(self):
        # Pickled into django-q2 task arguments: always unpickles to the one instance.
        return "SYSTEM"


SYSTEM = SystemActor()


def actor_require(actor, permission: str, doing: str) -> None:
    """Refuse unless actor may do it: a person with permission, or SYSTEM; never None."""
    if actor is SYSTEM:
        return
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise ArchiveError(
            f"Only a named person or the system may {doing}.", code="permission_denied"
        )
    if not actor.has_perm(permission):
        raise ArchiveError(f"You do not have permission to {doing}.", code="permission_denied")


def actor_user(actor):
    """The User to store in a `*_by` column: None for the system (or no actor)."""
    if actor is None or actor is SYSTEM:
        return None
    return actor


def actor_name(actor) -> str:
    return SYSTEM_NAME if actor is None or actor is SYSTEM else actor.get_username()
