"""Identifiers are identifiers, dates are dates a person could have: free text or an impossible date is a 422 that
names the field, never a value stored for auditors to read (issue 16)."""

from __future__ import annotations

import pytest

from tests.support.api import assert_problem, trace_body

SMUGGLED = "SUBJ OLETA BAHRINGER 1995-05-01 CR0 7NX"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"officers__requesting": {"id": SMUGGLED, "grade": "EO"}}, "officers.requesting.id"),
        ({"officers__authorising": {"id": "HO-EO-19950501", "grade": "HEO"}}, "officers.authorising.id"),
        ({"investigation__reference": SMUGGLED}, "investigation.reference"),
        ({"investigation__reference": "HO-1995-0501"}, "investigation.reference"),  # a year from 2000
        ({"investigation__last_contact": "0001-01-01"}, "investigation.last_contact"),
        ({"subject__date_of_birth": "1899-12-31"}, "subject.date_of_birth"),
    ],
)
def test_free_text_or_an_impossible_date_is_refused_naming_the_field(api, requester_key, change, field):
    response = api.trace(trace_body(**change), requester_key)
    problem = assert_problem(response, 422)
    assert field in str(problem["errors"]) or field in problem["detail"]
    assert SMUGGLED not in response.text and "19950501" not in response.text


def test_contact_cannot_have_been_lost_before_the_subject_was_born(api, requester_key):
    body = trace_body(subject__date_of_birth="2001-05-06", investigation__last_contact="2001-05-05")
    problem = assert_problem(api.trace(body, requester_key), 422)
    assert "last_contact" in str(problem)
    body = trace_body(subject__date_of_birth="2001-05-06", investigation__last_contact="2001-05-06")
    assert api.trace(body, requester_key).status_code == 200  # judged (and here refused: contact too long ago)


def test_the_documented_formats_are_accepted(api, requester_key):
    body = trace_body(
        officers__requesting={"id": "HO-EO-1182", "grade": "EO"},
        officers__authorising={"id": "UKBA-000407", "grade": "HEO"},
        investigation__reference="HOIE-2026-00004217",
    )
    assert api.trace(body, requester_key).status_code == 200
    senior = trace_body(officers__authorising={"id": " HO-G7-1234 ", "grade": "G7"})  # a grade code with a digit
    assert api.trace(senior, requester_key).status_code == 200
