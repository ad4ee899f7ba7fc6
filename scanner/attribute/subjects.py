"""Who sent it: the subject of an event, at the time of the event.

In order:
1. a GTP-U tunnel whose TEID the control plane bound to a subscriber;
2. the control-plane binding of the client address at that time (GTP-C,
   RADIUS, Diameter, DHCP: see bindings.py);
3. the inventory's addresses (with their optional from/until times) and MACs;
4. the inventory device whose own identifier the event carries (a value only
   that device has names it, wherever it connects from);
5. a DHCP lease whose MAC the inventory does not know: the subscriber is named
   by a pseudonym of the MAC (``mac-…``, source dhcp), steadier than a leased address;
6. otherwise the client address itself, with ``minor`` unknown: traffic from an
   address with no binding at that time is attributed to the address, never
   guessed.

A control-plane identity is joined to an inventory device that lists its
IMSI, MSISDN, IMEI or MAC, and to the operator's child-profile subscriber
list; subscribers are named by a keyed pseudonym (``sub-3fa9c2d81e0b``) so
reports do not print IMSIs.
"""

from __future__ import annotations

from scanner.attribute.bindings import BindingLearner, Identity
from scanner.knowledge.identifiers import identifier_type, normalise_identifier
from scanner.knowledge.inventory import Device, Inventory, Subscriber, TimedAddress
from scanner.model import DhcpMessage, Event, Subject
from scanner.privacy import Pseudonymizer


class SubjectResolver:
    def __init__(
        self,
        inventory: Inventory | None,
        subscribers: tuple[Subscriber, ...],
        bindings: BindingLearner,
        pseudonyms: Pseudonymizer,
    ) -> None:
        self.bindings = bindings
        self.pseudonyms = pseudonyms
        self.devices: dict[str, Device] = inventory.by_id() if inventory else {}
        self._by_address: dict[str, list[tuple[Device, TimedAddress]]] = {}
        self._by_identifier: dict[tuple[str, str], Device] = {}
        for device in self.devices.values():
            for timed in device.addresses:
                self._by_address.setdefault(timed.address, []).append((device, timed))
            for mac in device.macs:
                self._by_identifier[("mac", mac)] = device
            for id_type, raws in device.identifiers.items():
                if not identifier_type(id_type).names_device:
                    continue
                for raw in raws:
                    normal = normalise_identifier(id_type, raw)
                    if normal:
                        self._by_identifier[(id_type, normal)] = device
        self._subscribers: dict[tuple[str, str], Subscriber] = {}
        for subscriber in subscribers:
            if subscriber.imsi:
                self._subscribers[("imsi", subscriber.imsi)] = subscriber
            if subscriber.msisdn:
                self._subscribers[("msisdn", subscriber.msisdn)] = subscriber
        self._subjects: dict[str, Subject] = {}
        self._identity_subjects: dict[Identity, Subject] = {}

    def subjects(self) -> list[Subject]:
        """Every subject handed out so far."""
        return list(self._subjects.values())

    def resolve(self, event: Event, owner: str | None = None) -> Subject:
        ts = event.ts
        identity = None
        tunnel = event.tunnel
        if tunnel is not None and tunnel.type == "gtpu" and tunnel.teid is not None:
            identity = self.bindings.lookup_tunnel(tunnel.teid, ts)
        if identity is None:
            identity = self.bindings.lookup(event.flow.src, ts)
        if identity is None and isinstance(event, DhcpMessage) and event.mac:
            identity = Identity(source="dhcp", mac=event.mac)
        if identity is not None:
            subject = self._from_identity(identity)
            if subject is not None:
                return subject
        device = self._device_at(event.flow.src, ts)
        if device is None and owner is not None:
            device = self.devices.get(owner)
        if device is not None:
            return self._device_subject(device)
        if identity is not None:
            return self._pseudonymous(identity)
        return self._intern(Subject(event.flow.src, None, "address"))

    # ------------------------------------------------------------------ pieces

    def _device_at(self, address: str, ts: float) -> Device | None:
        for device, timed in self._by_address.get(address, ()):
            if timed.covers(ts):
                return device
        return None

    def _from_identity(self, identity: Identity) -> Subject | None:
        """An inventory device for this identity, if the inventory lists one of its numbers."""
        cached = self._identity_subjects.get(identity)
        if cached is not None:
            return cached
        for kind in ("imsi", "msisdn", "mei", "mac"):
            value = getattr(identity, kind)
            if value:
                device = self._by_identifier.get(("imei" if kind == "mei" else kind, value))
                if device is not None:
                    # A device the inventory knows only by its numbers was found by the control plane.
                    subject = self._device_subject(device, "inventory" if device.addresses else identity.source)
                    self._identity_subjects[identity] = subject
                    return subject
        if identity.source == "dhcp":
            return None  # a MAC alone: the inventory's addresses and value owners are tried first
        subject = self._pseudonymous(identity)
        self._identity_subjects[identity] = subject
        return subject

    def _pseudonymous(self, identity: Identity) -> Subject:
        subscriber = None
        for kind in ("imsi", "msisdn"):
            value = getattr(identity, kind)
            if value and (kind, value) in self._subscribers:
                subscriber = self._subscribers[(kind, value)]
                break
        key = identity.key
        assert key is not None
        kind, value = key
        name = subscriber.id if subscriber and subscriber.id else self.pseudonyms.pseudonym("sub" if kind != "mac" else "mac", f"{kind}:{value}")
        attributes = tuple((k, getattr(identity, k)) for k in ("imsi", "msisdn", "mei", "mac", "user_name") if getattr(identity, k))
        return self._intern(Subject(name, subscriber.minor if subscriber else None, identity.source, attributes))

    def _device_subject(self, device: Device, source: str = "inventory") -> Subject:
        subject = self._subjects.get(device.id)
        if subject is None:
            subject = self._intern(Subject(device.id, device.minor, source))
        return subject

    def _intern(self, subject: Subject) -> Subject:
        existing = self._subjects.get(subject.id)
        if existing is not None:
            return existing
        self._subjects[subject.id] = subject
        return subject
