"""Each event class declares what the later stages need (scanner/model.py); the declarations
must name real fields and locations of the report's contract, and the tshark engine's
display filter and layer list must be composed of its registered builders' declarations."""

from __future__ import annotations

import dataclasses

from scanner.engines.tshark.builder import BUILDERS
from scanner.engines.tshark.options import DISPLAY_FILTER, PROTOCOLS
from scanner.model import EVENT_TYPES, LOCATIONS, Event


def test_declarations_name_fields_of_their_event() -> None:
    assert len(EVENT_TYPES) >= 12
    for event_type in EVENT_TYPES.values():
        names = {f.name for f in dataclasses.fields(event_type)}
        assert set(event_type.table_fields) <= names, event_type.__name__
        if event_type.host_field is not None:
            assert event_type.host_field in names, event_type.__name__
            assert event_type.host_source != Event.host_source, event_type.__name__
        assert event_type.name_location in LOCATIONS, event_type.__name__
        assert event_type.contact_location is None or event_type.contact_location in LOCATIONS
        # The control plane always teaches bindings (else its events would be dropped unread).
        assert not event_type.control_plane or event_type.binds_subjects, event_type.__name__


def test_the_tshark_request_is_composed_of_the_builders() -> None:
    layers = PROTOCOLS.split()
    for name, builder in BUILDERS.items():
        assert builder.layer == name
        assert builder.display_filter and builder.display_filter in DISPLAY_FILTER, name
        assert builder.protocols and set(builder.protocols) <= set(layers), name
    assert len(BUILDERS) >= 15  # every protocol module of scanner/engines/tshark/protocols/ registered
