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
});
