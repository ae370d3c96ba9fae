// Submits the response form of response_mode=form_post at once; without JavaScript the
// person presses Continue.
document.querySelectorAll("form[data-autosubmit]").forEach(function (f) { f.submit(); });
