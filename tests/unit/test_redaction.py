"""The log net of core.redaction: whatever a logger is handed, no mobile number comes out."""

from __future__ import annotations

import logging

import pytest

from core.redaction import SQLALCHEMY_ENGINE, Redact, protect

MOBILE = "13912345678"


@pytest.fixture
def logger():
    log = logging.getLogger("tests.redaction")
    log.addFilter(Redact())
    yield log
    log.filters.clear()


def test_a_message_and_its_arguments_are_masked(logger, caplog):
    with caplog.at_level(logging.DEBUG, logger="tests.redaction"):
        logger.info("looked up %s and %s", MOBILE, "139 1234 5678")
    assert caplog.records[0].getMessage() == "looked up 139****5678 and 139****5678"
    assert MOBILE not in caplog.text


def test_a_traceback_is_masked(logger, caplog):
    with caplog.at_level(logging.DEBUG, logger="tests.redaction"):
        try:
            raise ValueError(f"DETAIL: Key (store_id, mobile)=(1, {MOBILE}) already exists.")
        except ValueError:
            logger.exception("unhandled error")
    assert "ValueError" in caplog.text and "139****5678" in caplog.text
    assert MOBILE not in caplog.text


def test_query_strings_are_stripped_from_request_lines(caplog):
    log = logging.getLogger("tests.redaction.server")
    log.addFilter(Redact(strip_queries=True))
    try:
        with caplog.at_level(logging.DEBUG, logger="tests.redaction.server"):
            log.info('"%s" %s %s', "GET /console/customers?q=139+1234+5678&page=2 HTTP/1.1", 200, 5)
        assert caplog.records[0].getMessage() == '"GET /console/customers HTTP/1.1" 200 5'
    finally:
        log.filters.clear()


def test_sqlalchemy_result_rows_are_dropped_and_statements_kept(caplog):
    protect(SQLALCHEMY_ENGINE)
    engine_log = logging.getLogger(SQLALCHEMY_ENGINE)
    with caplog.at_level(logging.DEBUG, logger=SQLALCHEMY_ENGINE):
        engine_log.info("SELECT customers.mobile FROM customers")
        engine_log.debug("Row %r", (1, MOBILE, "王"))
    assert [r.getMessage() for r in caplog.records] == ["SELECT customers.mobile FROM customers"]
