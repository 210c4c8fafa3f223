/* global document, window */
// Socle's page script, self-hosted: the Content-Security-Policy allows no inline script.
'use strict';
document.addEventListener('DOMContentLoaded', function () {
  // The end of dynamic registration: the platform closes its frame or window (IMS LTI Dynamic Registration).
  if (document.querySelector('[data-lti-close]')) {
    (window.opener || window.parent).postMessage({ subject: 'org.imsglobal.lti.close' }, '*');
  }
  // The deep-linking response goes back to the platform at once; its button stays for a browser without scripts.
  var form = document.querySelector('form[data-autosubmit]');
  if (form) form.submit();
  // A confirmation shown after a change (a credit granted, revoked) takes the focus, so it is read at once.
  var notice = document.querySelector('[data-focus]');
  if (notice) notice.focus();
});
// An error answered to an htmx form lands in its result region: the focus goes there, so it is read and seen.
document.addEventListener('htmx:afterSwap', function (event) {
  var target = event.detail && event.detail.target;
  if (target && target.getAttribute('role') === 'alert' && target.hasAttribute('tabindex') && target.textContent.trim()) target.focus();
});

// The mapping table is one form ("save all"); with scripts, Enter in a row's hours saves that row alone, and the
// full title of the chosen competency shows under its list (the list itself may be narrower than the title).
document.addEventListener('keydown', function (event) {
  var input = event.target;
  if (event.key !== 'Enter' || !input || !input.getAttribute || !input.getAttribute('data-row-save')) return;
  var button = document.getElementById(input.getAttribute('data-row-save'));
  if (!button) return;
  event.preventDefault();
  button.click();
});
document.addEventListener('change', function (event) {
  var select = event.target;
  if (!select || !select.getAttribute || !select.getAttribute('data-title')) return;
  var title = document.getElementById(select.getAttribute('data-title'));
  var option = select.options[select.selectedIndex];
  if (title) title.textContent = option && option.value ? option.textContent : '';
});
