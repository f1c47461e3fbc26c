"""The per-page checks of tests/test_browser.py at a phone's width (390 px, dark colour scheme).

The same tests, visits and fixtures as the desktop's, collected in a module of their own so that
pytest-xdist can run the two halves of the visits on two workers at once.
"""
from __future__ import annotations

from test_browser import (book, browser, served, test_collapsed_code_cells_open_and_show_code,  # noqa: F401
                          test_data_notice_is_visible, test_every_character_has_a_glyph,
                          test_every_image_loads_and_has_alt_text, test_no_console_error_and_no_failed_request,
                          test_no_serious_or_critical_accessibility_violation,
                          test_nothing_is_wider_than_the_viewport_but_tables_scroll_in_their_box,
                          test_requests_go_to_the_local_server_only, test_the_server_answered_every_request_of_the_site,
                          test_the_menu_button_shows_the_chapter_links, test_the_contents_button_shows_the_page_contents,
                          test_a_wide_table_shows_that_it_scrolls, test_a_traced_number_is_never_split_by_a_line_break,
                          test_a_tapped_number_shows_its_tooltip_inside_the_screen_reader_first,
                          test_the_data_notice_links_to_the_details_and_is_one_line_on_a_phone,
                          test_the_code_of_a_page_is_gathered_in_one_collapsed_block, visit)

MODULE_WIDTHS = ["390"]


def pytest_generate_tests(metafunc):
    """Every test with a `width` runs at the phone's."""
    if "width" in metafunc.fixturenames:
        metafunc.parametrize("width", MODULE_WIDTHS)
