/** The chat demo's entry: renders into the page's #app. */
import { render } from 'preact';
import { DemoApp } from './app.tsx';

const root = document.getElementById('app');
if (root !== null) render(<DemoApp />, root);
