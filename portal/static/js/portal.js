/* The portal's behaviour that would otherwise sit in inline handlers (the CSP allows none):
   a <select data-autosubmit> submits its form when it changes. */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target instanceof HTMLSelectElement && target.hasAttribute("data-autosubmit") &&
        target.form) {
      target.form.submit();
    }
  });
})();
