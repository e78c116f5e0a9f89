// The explorer's part for a words model (a character-level SeqVAE with a vocabulary): a text box whose word is
// reconstructed in the page (decode(μ(x)), greedy) and whose nearest test-split words in latent space (Euclidean
// distance between posterior means, over the mapped examples) are listed; its μ is set on the sliders.
import {
  decodeWords,
  nearestRows,
  reconstructWords,
  wordMeans,
  wordProblem,
  wordsAt,
  type LatentVariableModel,
} from '../src/browser.js';

type Words = Parameters<typeof wordsAt>[0];

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** How many neighbours the text box lists. */
export const NEIGHBOURS = 8;

export interface WordQuery {
  word: string;
  /** What is wrong with the word (then nothing else is set). */
  problem?: string;
  reconstruction?: string;
  mu?: number[];
  neighbours?: { word: string; index: number; distance: number }[];
}

/** The words of one-hot rows [n × T·V] of this model. */
export function wordsOfRows(model: LatentVariableModel, x: Float32Array): string[] {
  const m = model as Words;
  return decodeWords(x, m.steps, m.spec.vocabulary);
}

/** The greedy word at one latent point. */
export function wordAt(model: LatentVariableModel, z: Float32Array): string {
  return wordsAt(model as Words, z, 1)[0];
}

/**
 * Wires the text box: on Enter or the button, the word is checked (a problem is shown, naming it), reconstructed,
 * its μ handed to setZ, and its neighbours among the test words `testWords` (means `mu` [n × d]) listed.
 */
export function setupWordBox(
  model: LatentVariableModel,
  testWords: string[],
  mu: Float32Array,
  d: number,
  setZ: (z: ArrayLike<number>) => void,
): (word: string) => WordQuery {
  const m = model as Words;
  $('wordbox').hidden = false;
  const input = $<HTMLInputElement>('word');
  const out = $('wordrecon');
  const list = $('neighbours');
  const query = (raw: string): WordQuery => {
    const word = raw.trim();
    list.innerHTML = '';
    const problem = wordProblem(m, word);
    if (problem !== undefined) {
      out.textContent = `cannot take ${JSON.stringify(word)}: ${problem}`;
      out.className = 'problem';
      out.dataset.done = '1';
      return { word, problem };
    }
    const reconstruction = reconstructWords(m, [word])[0];
    const z = wordMeans(m, [word]);
    setZ(z);
    const near = nearestRows(mu, testWords.length, d, z, NEIGHBOURS);
    const neighbours = near.index.map((i, k) => ({ word: testWords[i], index: i, distance: near.distance[k] }));
    out.className = '';
    out.textContent = `${word} → ${reconstruction || '(empty)'}${reconstruction === word ? ' (exact)' : ''}`;
    for (const nb of neighbours) {
      const li = document.createElement('li');
      li.textContent = `${nb.word} (${nb.distance.toFixed(3)})`;
      list.append(li);
    }
    out.dataset.done = '1';
    return { word, reconstruction, mu: Array.from(z), neighbours };
  };
  const go = () => void query(input.value);
  $('wordgo').addEventListener('click', go);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') go();
  });
  return query;
}
