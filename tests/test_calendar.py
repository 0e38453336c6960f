"""SLA deadline arithmetic: calendar mode and working hours in the person's own zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from protocol.calendar import BusinessHours, deadline, fraction_point, working_time_between

NY = ZoneInfo("America/New_York")
SYD = ZoneInfo("Australia/Sydney")
H = timedelta(hours=1)

WORK = BusinessHours(enabled=True)  # Mon-Fri 09:00-17:00
CALENDAR = BusinessHours(enabled=False)
KINGS_BIRTHDAY = date(2024, 6, 10)  # a Monday public holiday in New South Wales
SYD_HOLIDAY = BusinessHours(enabled=True, holidays=frozenset({KINGS_BIRTHDAY}))
JULY_4 = BusinessHours(enabled=True, holidays=frozenset({date(2024, 7, 4)}))


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


def syd(*args: int) -> datetime:
    return datetime(*args, tzinfo=SYD)


# --- deadline: working hours -------------------------------------------------------------


def test_hot_ack_across_weekend_sydney():
    """Friday 16:55 + 4h = 5 min Friday + 3h55 Monday."""
    due = deadline(syd(2024, 6, 14, 16, 55), 4 * H, hours=WORK, tz=SYD)
    assert due == syd(2024, 6, 17, 12, 55)


def test_holiday_monday_pushes_to_tuesday_sydney():
    due = deadline(syd(2024, 6, 7, 16, 55), 4 * H, hours=SYD_HOLIDAY, tz=SYD)
    assert due == syd(2024, 6, 11, 12, 55)


def test_holidays_are_local_dates_even_when_start_is_given_in_utc():
    # Friday 16:55 in Sydney is Friday 06:55 UTC; Monday is the holiday in Sydney.
    start = datetime(2024, 6, 7, 6, 55, tzinfo=UTC)
    due = deadline(start, 4 * H, hours=SYD_HOLIDAY, tz=SYD)
    assert due == datetime(2024, 6, 11, 2, 55, tzinfo=UTC)


def test_result_is_aware_utc():
    due = deadline(ny(2024, 6, 3, 10), H, hours=WORK, tz=NY)
    assert due.tzinfo is UTC
    assert due == ny(2024, 6, 3, 11)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (ny(2024, 6, 8, 10), ny(2024, 6, 10, 10)),  # Saturday -> Monday 09:00 + 1h
        (ny(2024, 6, 4, 7), ny(2024, 6, 4, 10)),  # before opening
        (ny(2024, 6, 4, 18), ny(2024, 6, 5, 10)),  # after closing
        (ny(2024, 6, 4, 17), ny(2024, 6, 5, 10)),  # exactly at closing
    ],
)
def test_start_outside_hours_starts_at_next_working_moment(start, expected):
    assert deadline(start, H, hours=WORK, tz=NY) == expected


def test_start_on_holiday_new_york():
    due = deadline(ny(2024, 7, 4, 10), 2 * H, hours=JULY_4, tz=NY)
    assert due == ny(2024, 7, 5, 11)


def test_multi_day_window_spans_three_working_days():
    assert deadline(ny(2024, 6, 3, 9), 24 * H, hours=WORK, tz=NY) == ny(2024, 6, 5, 17)
    assert deadline(ny(2024, 6, 3, 13), 24 * H, hours=WORK, tz=NY) == ny(2024, 6, 6, 13)


def test_window_ending_exactly_at_closing_is_due_at_closing():
    assert deadline(ny(2024, 6, 7, 13), 4 * H, hours=WORK, tz=NY) == ny(2024, 6, 7, 17)


def test_zero_window_outside_hours_is_next_opening():
    assert deadline(ny(2024, 6, 8, 12), timedelta(0), hours=WORK, tz=NY) == ny(2024, 6, 10, 9)


def test_no_zone_means_utc():
    start = datetime(2024, 6, 7, 16, 30, tzinfo=UTC)
    assert deadline(start, H, hours=WORK, tz=None) == datetime(2024, 6, 10, 9, 30, tzinfo=UTC)


# --- DST -----------------------------------------------------------------------------------


def test_spring_forward_weekend_new_york():
    # EST (-5) on Friday, EDT (-4) on Monday: local hours stay 09:00-17:00.
    due = deadline(ny(2024, 3, 8, 15), 4 * H, hours=WORK, tz=NY)
    assert due == ny(2024, 3, 11, 11)
    assert due == datetime(2024, 3, 11, 15, tzinfo=UTC)


def test_dst_ends_weekend_sydney():
    # AEDT (+11) on Friday, AEST (+10) on Monday.
    due = deadline(syd(2024, 4, 5, 16), 4 * H, hours=WORK, tz=SYD)
    assert due == datetime(2024, 4, 8, 2, tzinfo=UTC)  # Monday 12:00 AEST


def test_seven_day_week_over_the_transition_day():
    every_day = BusinessHours(enabled=True, days=tuple(range(7)))
    due = deadline(ny(2024, 3, 9, 16), 4 * H, hours=every_day, tz=NY)
    assert due == datetime(2024, 3, 10, 16, tzinfo=UTC)  # Sunday 12:00 EDT


def test_dst_change_week_has_forty_working_hours():
    span = working_time_between(ny(2024, 3, 4, 9), ny(2024, 3, 11, 9), hours=WORK, tz=NY)
    assert span == 40 * H


# --- calendar mode -------------------------------------------------------------------------


def test_calendar_mode_is_elapsed_time_across_dst():
    # 24 real hours from Saturday noon EST is Sunday 13:00 EDT, not 12:00.
    due = deadline(ny(2024, 3, 9, 12), 24 * H, hours=CALENDAR, tz=NY)
    assert due == datetime(2024, 3, 10, 17, tzinfo=UTC)
    assert due.tzinfo is UTC


def test_calendar_mode_ignores_days_and_holidays():
    hours = BusinessHours(enabled=False, days=(), holidays=frozenset({date(2024, 6, 8)}))
    assert deadline(ny(2024, 6, 8, 12), 4 * H, hours=hours, tz=NY) == ny(2024, 6, 8, 16)


def test_calendar_working_time_is_elapsed_time():
    span = working_time_between(ny(2024, 3, 9, 12), ny(2024, 3, 10, 12), hours=CALENDAR, tz=NY)
    assert span == 23 * H


# --- fraction_point ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [
        (0.5, syd(2024, 6, 17, 10, 55)),  # 5 min Friday + 1h55 Monday
        (0.9, syd(2024, 6, 17, 12, 31)),  # 3h36 of working time
        (1.0, syd(2024, 6, 17, 12, 55)),
    ],
)
def test_reminder_points_in_working_time(fraction, expected):
    start = syd(2024, 6, 14, 16, 55)
    end = deadline(start, 4 * H, hours=WORK, tz=SYD)
    assert fraction_point(start, end, fraction, hours=WORK, tz=SYD) == expected


def test_fraction_with_start_outside_hours():
    start = ny(2024, 6, 8, 10)  # Saturday
    end = deadline(start, 8 * H, hours=WORK, tz=NY)
    assert end == ny(2024, 6, 10, 17)
    assert fraction_point(start, end, 0.5, hours=WORK, tz=NY) == ny(2024, 6, 10, 13)


def test_fraction_calendar_mode_is_linear():
    start = datetime(2024, 6, 7, 6, 55, tzinfo=UTC)
    end = start + 4 * H
    point = fraction_point(start, end, 0.5, hours=CALENDAR, tz=SYD)
    assert point == datetime(2024, 6, 7, 8, 55, tzinfo=UTC)


# --- working_time_between ------------------------------------------------------------------


def test_missed_by_counts_only_working_time():
    due = syd(2024, 6, 17, 12, 55)
    now = syd(2024, 6, 18, 9, 30)
    assert working_time_between(due, now, hours=WORK, tz=SYD) == 4 * H + timedelta(minutes=35)
    assert working_time_between(now, due, hours=WORK, tz=SYD) == -(4 * H + timedelta(minutes=35))


def test_no_working_time_over_a_weekend():
    span = working_time_between(ny(2024, 6, 7, 17), ny(2024, 6, 10, 9), hours=WORK, tz=NY)
    assert span == timedelta(0)


@pytest.mark.parametrize("window", [timedelta(minutes=1), 4 * H, 24 * H, 72 * H])
def test_deadline_and_working_time_agree(window):
    start = syd(2024, 4, 3, 11, 20)
    due = deadline(start, window, hours=SYD_HOLIDAY, tz=SYD)
    assert working_time_between(start, due, hours=SYD_HOLIDAY, tz=SYD) == window


# --- guards --------------------------------------------------------------------------------


@pytest.mark.parametrize("days", [(), (7,)])
def test_no_working_days_is_rejected(days):
    hours = BusinessHours(enabled=True, days=days)
    with pytest.raises(ValueError, match="no working days"):
        deadline(ny(2024, 6, 3, 9), H, hours=hours, tz=NY)
    with pytest.raises(ValueError, match="no working days"):
        working_time_between(ny(2024, 6, 3, 9), ny(2024, 6, 4, 9), hours=hours, tz=NY)


def test_hours_that_end_before_they_start_are_rejected():
    hours = BusinessHours(enabled=True, start=time(17), end=time(9))
    with pytest.raises(ValueError):
        deadline(ny(2024, 6, 3, 9), H, hours=hours, tz=NY)


def test_naive_datetimes_are_rejected():
    with pytest.raises(ValueError, match="naive"):
        deadline(datetime(2024, 6, 3, 9), H, hours=WORK, tz=NY)


def test_negative_window_is_rejected():
    with pytest.raises(ValueError):
        deadline(ny(2024, 6, 3, 9), -H, hours=WORK, tz=NY)
