// Code blocks and display equations wider than the column scroll sideways. Phone
// browsers hide scroll bars until one scrolls, so this marks each such block with
// a class per side where more is hidden (gmm-more-left, gmm-more-right), and
// scroll-cue.css draws a shadow on that side. The classes follow scrolling and
// every change of size (a turned phone, an opened hidden cell).
(() => {
  const SELECTOR =
    "article.bd-article pre, article.bd-article mjx-container[display='true']";
  const watched = new WeakSet();

  const update = (el) => {
    const hidden = el.scrollWidth - el.clientWidth;
    el.classList.toggle("gmm-more-left", hidden > 1 && el.scrollLeft > 1);
    el.classList.toggle("gmm-more-right", el.scrollLeft < hidden - 1);
  };

  const sizes = new ResizeObserver((entries) => {
    entries.forEach((entry) => update(entry.target));
  });

  const watch = () => {
    document.querySelectorAll(SELECTOR).forEach((el) => {
      if (watched.has(el)) return;
      watched.add(el);
      el.addEventListener("scroll", () => update(el), { passive: true });
      sizes.observe(el);
      update(el);
    });
  };

  document.addEventListener("DOMContentLoaded", () => {
    watch(); // code blocks
    const startup = window.MathJax && window.MathJax.startup;
    if (startup && startup.promise) startup.promise.then(watch); // equations
  });
})();
