// LTI Dynamic Registration 1.0 section 3.6.2: tell the platform that opened the registration
// page to close it (a static file: the CSP allows no inline script).
"use strict";
(function () {
  var button = document.getElementById("lti-close");
  if (!button) {
    return;
  }
  button.addEventListener("click", function () {
    (window.opener || window.parent).postMessage({ subject: "org.imsglobal.lti.close" }, "*");
  });
})();
