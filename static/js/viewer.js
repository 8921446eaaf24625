// Document viewer: turning the pages of a multi-page TIFF without reloading the page (which would
// record another view). Without JavaScript the page links load the viewer page for that page.
(function () {
  if (window.portalViewer) { return; }  // loaded again by a boosted navigation
  window.portalViewer = true;
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-page-src]");
    var img = document.getElementById("viewer-page");
    if (!link || !img) { return; }
    event.preventDefault();
    img.src = link.getAttribute("data-page-src");
    img.alt = link.getAttribute("data-page-label") || img.alt;
    var links = link.parentNode.querySelectorAll("a[data-page-src]");
    for (var i = 0; i < links.length; i++) { links[i].removeAttribute("aria-current"); }
    link.setAttribute("aria-current", "page");
  });
})();
