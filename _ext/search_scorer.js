// Sphinx's search scorer (html_search_scorer, set by _ext/book_site.py): the defaults of Sphinx
// 7.4's searchtools.js, and pages ranked as a reader looks for them: the chapters first, the API
// reference (every function's name and docstring, which match most words) after them.
var Scorer = {
  score: (result) => {
    const [docname, , , , score] = result;
    return docname === "chapters/api" || docname.startsWith("chapters/api/") ? score - 100 : score;
  },
  objNameMatch: 11,
  objPartialMatch: 6,
  objPrio: {0: 15, 1: 5, 2: -5},
  objPrioDefault: 0,
  title: 15,
  partialTitle: 7,
  term: 5,
  partialTerm: 2,
};
